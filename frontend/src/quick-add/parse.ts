import { api, ok } from '../api/client';
import type { ParseResult } from '../api/extra';

/** What Errand understands in a line of text (the grammar of Quick Add, the API and the assistant). */
export async function parseText(text: string): Promise<ParseResult> {
  return (await ok(api.POST('/api/v1/parse', { body: { text } }))) as ParseResult;
}
