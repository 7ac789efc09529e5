// Types for scripts/topology.js (a plain Node script, so the testnet runs without a build)
export type Role = 'bootstrap' | 'relay' | 'store'

export interface Topology {
  subnet: string
  prefix: string
  ports: { tcp: number, ws: number, api: number, metrics: number }
  logLevel: string
  hosts: Array<{ name: string, roles: Role[] }>
}

export interface PlannedHost {
  name: string
  index: number
  address: string
  roles: Role[]
  bootstrap: boolean
  bootstrapAddr?: string
  metrics: string
  args: string[]
}

export const DEFAULT_TOPOLOGY: string
export const COMPOSE_FILE: string
export const PROMETHEUS_FILE: string
export class TopologyError extends Error {}
export function loadTopology (file?: string): Topology
export function validateTopology (raw: unknown, source?: string): Topology
export function nodesTopology (count: number, roles?: Role[]): Topology
export function plan (topology: Topology): PlannedHost[]
export function toYaml (value: unknown, indent?: string): string
export function composeObject (topology: Topology): Record<string, any>
export function composeYaml (topology: Topology): string
export function prometheusObject (topology: Topology): Record<string, any>
export function prometheusYaml (topology: Topology): string
