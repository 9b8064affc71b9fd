/** One line of a usage text: an option or an environment variable, and what it does (with its default). */
export type UsageEntry = readonly [name: string, meaning: string];

/** What a command's `--help` prints. */
export interface Usage {
  /** The command as a user types it, with its options' shape: `npm run seed -- [--accounts N] [--reset]`. */
  command: string;
  /** One or two sentences on what the command does. */
  summary: string;
  /** Its command-line options. @default [] */
  options?: readonly UsageEntry[];
  /** The environment variables it reads. @default [] */
  env?: readonly UsageEntry[];
}

/** Formats `usage` as `--help` prints it: `usage: <command>`, the summary, then aligned options and variables. */
export function formatUsage(usage: Usage): string {
  const options: UsageEntry[] = [...(usage.options ?? []), ['--help, -h', 'print this help and exit']];
  const entries = [...options, ...(usage.env ?? [])];
  const width = Math.max(0, ...entries.map(([name]) => name.length)) + 2;
  const block = (title: string, list: readonly UsageEntry[] | undefined) =>
    list?.length ? [`${title}:`, ...list.map(([name, meaning]) => `  ${name.padEnd(width)}${meaning}`)] : [];
  return [
    `usage: ${usage.command}`,
    usage.summary,
    ...block('options', options),
    ...block('environment (docs/configuration.md lists every variable)', usage.env),
  ].join('\n');
}

/** True when the command line asks for help: `--help` or `-h` anywhere in `argv`. */
export function wantsHelp(argv: readonly string[] = process.argv.slice(2)): boolean {
  return argv.includes('--help') || argv.includes('-h');
}
