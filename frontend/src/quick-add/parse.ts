import { raw } from '../api/client';
import type { ParseResult } from '../api/extra';

export function parseText(text: string): Promise<ParseResult> {
  return raw<ParseResult>('POST', '/parse', { text });
}
