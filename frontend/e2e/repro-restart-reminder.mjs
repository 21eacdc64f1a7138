// Repro for BACKEND-NEEDS: a reminder created just before `errand serve` restarts
// can stay `pending` for good (no notification). node e2e/repro-restart-reminder.mjs
import { startServer, signupApi, apiAs } from './harness.mjs';
let srv = await startServer();
const token = await signupApi(srv.url, `r${Date.now()}@example.com`);
// an open SSE stream, like the browser's
const ctrl = new AbortController();
fetch(`${srv.url}/api/v1/notifications/stream`, { headers: { authorization: `Bearer ${token}` }, signal: ctrl.signal }).then(async (r) => { for await (const _ of r.body) {} }).catch(() => {});
// a reminder that fires, then a snooze of it
const p = await apiAs(srv.url, token, 'POST', '/tasks', { title: 'pills', due: 'tomorrow 9am', reminders: [{ at: new Date(Date.now() + 1000).toISOString() }] });
await new Promise((r) => setTimeout(r, 2500));
const n0 = await apiAs(srv.url, token, 'GET', '/notifications');
await apiAs(srv.url, token, 'POST', `/notifications/${n0.items[0].id}/snooze`, { minutes: 10 });
const results = [];
for (let i = 0; i < 4; i++) {
  const t = await apiAs(srv.url, token, 'POST', '/tasks', { title: `stretch ${i}`, reminders: [{ at: new Date(Date.now() + 1200).toISOString() }] });
  const { dir, port } = srv;
  const t0 = Date.now();
  await srv.stop(true);
  const stopped = Date.now() - t0;
  srv = await startServer({ dir, port });
  await new Promise((r) => setTimeout(r, 6000));
  const n = await apiAs(srv.url, token, 'GET', '/notifications');
  const w = await apiAs(srv.url, token, 'GET', `/workflows?task_id=${t.id}`);
  const codes = [];
  for (const x of w.items) codes.push((await fetch(`${srv.url}/api/v1/workflows/${encodeURIComponent(x.id)}`, { headers: { authorization: `Bearer ${token}` } })).status);
  results.push({ i, stopped, notified: n.items.some((x) => x.title === `stretch ${i}`), workflows: w.items.map((x) => `${x.id.slice(0, 20)}:${x.status}`), codes });
}
await new Promise((r) => setTimeout(r, 15000));
const later = await apiAs(srv.url, token, 'GET', '/notifications');
console.log('15 s later, notified:', [0, 1, 2, 3].map((i) => later.items.some((x) => x.title === `stretch ${i}`)));
ctrl.abort();
console.log(results);
console.log(srv.logs.filter((l) => /warn|error/i.test(l)).slice(-10).join('\n'));
await srv.stop();
