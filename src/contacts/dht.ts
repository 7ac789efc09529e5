import { BUNDLE_NAMESPACE, selectBundleRecord, validateBundleRecord } from './prekeys.ts'
import type { Selectors, Validators } from '@libp2p/kad-dht'

/** For `NodeInit.dhtValidators`: every node refuses forged or misfiled prekey bundles */
export const bundleValidators: Validators = { [BUNDLE_NAMESPACE]: validateBundleRecord }
/** For `NodeInit.dhtSelectors`: the newest bundle wins */
export const bundleSelectors: Selectors = { [BUNDLE_NAMESPACE]: selectBundleRecord }
