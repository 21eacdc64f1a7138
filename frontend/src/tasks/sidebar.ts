// The user's tags (with open-task counts) and saved filters, for the sidebar,
// the tag autocomplete and the filter pages.
import { api, ok } from '../api/client';
import type { SavedFilter, TagCount } from '../api/extra';
import { store } from '../ui/store';
import { onTaskEvent } from './data';

export const tags = store<TagCount[]>([]);
export const filters = store<SavedFilter[]>([]);

export async function loadTags(): Promise<void> {
  try {
    tags.set((await ok(api.GET('/api/v1/tags'))).items as TagCount[]);
  } catch {
    /* the sidebar simply shows no tags */
  }
}
export async function loadFilters(): Promise<void> {
  try {
    const items = (await ok(api.GET('/api/v1/filters'))).items;
    filters.set([...items].sort((a, b) => a.position - b.position));
  } catch {
    /* none */
  }
}
export async function saveFilter(name: string, query: string, color?: string): Promise<SavedFilter> {
  const f = await ok(api.POST('/api/v1/filters', { body: color ? { name, query, color } : { name, query } }));
  await loadFilters();
  return f;
}
export async function updateFilter(id: string, changes: Partial<Pick<SavedFilter, 'name' | 'query' | 'color' | 'position'>>): Promise<SavedFilter> {
  const f = await ok(api.PATCH('/api/v1/filters/{id}', { params: { path: { id } }, body: changes }));
  await loadFilters();
  return f;
}
export async function deleteFilter(id: string): Promise<void> {
  await ok(api.DELETE('/api/v1/filters/{id}', { params: { path: { id } } }));
  await loadFilters();
}

let timer: ReturnType<typeof setTimeout> | undefined;
onTaskEvent(() => {
  clearTimeout(timer);
  timer = setTimeout(loadTags, 400);
});
