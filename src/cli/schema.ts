import type { Command } from 'commander';
import { canonicalJsonSchemaText } from '../api/schema.ts';

export function registerSchema(program: Command): void {
  program
    .command('schema')
    .description("print the canonical format's JSON Schema (generated from avpscope's zod schema; also docs/schema/avpscope-events.schema.json)")
    .action(() => {
      process.stdout.write(canonicalJsonSchemaText());
    });
}
