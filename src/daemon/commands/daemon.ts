import { createLogger } from '../../node/index.ts'
import { checkApiBinding, mergeConfig, readConfigFile, writeConfigFile } from '../config.ts'
import { Daemon } from '../daemon.ts'
import { ensureHome } from '../home.ts'
import { CONFIG_OPTIONS, configFromFlags } from './config-flags.ts'
import type { Command } from './command.ts'

export const daemon: Command = {
  name: 'daemon',
  summary: 'Run a Murmur node with its control API until SIGINT, SIGTERM or `murmur stop`. The first run on a home writes its config file.',
  usage: 'daemon [--home DIR] [flags]',
  options: { ...CONFIG_OPTIONS },
  async run (ctx) {
    // every check comes before anything is written
    const flags = configFromFlags(ctx.values)
    const file = await readConfigFile(ctx.home)
    const config = mergeConfig(file, flags)
    checkApiBinding(config)

    await ensureHome(ctx.home)
    if (file == null) {
      await writeConfigFile(ctx.home, mergeConfig())
    }

    const logger = createLogger({ level: config.logLevel, destination: ctx.io.stdout as any })
    const running = await Daemon.start({ home: ctx.home, config, logger })

    let signals = 0
    const onSignal = (): void => {
      signals++
      if (signals > 1) {
        logger.root.warn('second signal: exiting without a clean stop')
        process.exit(1)
      }
      void running.stop()
    }
    ctx.io.signals?.on('SIGINT', onSignal)
    ctx.io.signals?.on('SIGTERM', onSignal)
    await running.stopped
    ctx.io.signals?.off('SIGINT', onSignal)
    ctx.io.signals?.off('SIGTERM', onSignal)
    return 0
  }
}
