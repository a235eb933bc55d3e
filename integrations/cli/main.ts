import { InputError } from '../../src/errors.ts';
import { UsageError } from './args.ts';

interface Command {
  summary: string;
  usage: string;
  /** Resolves with the exit status when it is not 0 (EXIT_PARTIAL, 130 after Ctrl-C). */
  run(argv: string[]): Promise<void | number>;
}

/** Commands load lazily so `--help` and light commands start fast (tfjs and its backends are heavy). */
const COMMANDS: Record<string, () => Promise<Command>> = {
  convert: async () => (await import('./convert.ts')).command,
  predict: async () => (await import('./predict.ts')).command,
  annotate: async () => (await import('./annotate.ts')).command,
  eval: async () => (await import('./eval.ts')).command,
  'fit-knn': async () => (await import('./fit-knn.ts')).command,
  refine: async () => (await import('./refine.ts')).command,
  train: async () => (await import('./train.ts')).command,
  finetune: async () => (await import('./train.ts')).finetuneCommand,
  export: async () => (await import('./train.ts')).exportCommand,
  'export-onnx': async () => (await import('./export-onnx.ts')).command,
  'serve-ls': async () => (await import('./serve-ls.ts')).command,
  'serve-cvat': async () => (await import('./serve-cvat.ts')).command,
};

function topHelp(): string {
  return `inp-former — INP-Former anomaly pre-annotation from the command line

Usage: inp-former <command> [options]

Commands:
${Object.keys(COMMANDS).map((c) => `  ${c}`).join('\n')}

Run "inp-former <command> --help" for a command's options.`;
}

/** Entry point: returns the process exit code; failures print one line on stderr. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(topHelp());
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`inp-former: unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(', ')})`);
    return 2;
  }
  const cmd = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`${cmd.summary}\n\nUsage: inp-former ${name} ${cmd.usage}`);
    return 0;
  }
  try {
    return (await cmd.run(rest)) ?? 0;
  } catch (e) {
    const err = e as Error;
    if (e instanceof UsageError) {
      console.error(`inp-former ${name}: ${err.message}\nUsage: inp-former ${name} ${cmd.usage}`);
      return 2;
    }
    const msg = e instanceof InputError ? err.message : `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`;
    console.error(`inp-former ${name}: ${msg.split('\n')[0]}`);
    if (process.env.INP_FORMER_DEBUG) console.error(err.stack);
    return 1;
  }
}
