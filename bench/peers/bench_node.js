// Node.js peer for M1-M4.
// Usage: node bench_node.js m1 YIELDS | m2 TASKS | m3 TASKS SECONDS | m4 TASKS LIMIT MS
// M1 is measured twice: `node` awaits an already-resolved promise (a
// microtask turn, never reaching the event loop), `node-immediate` awaits
// setImmediate (a full event-loop turn, like asyncio.sleep(0)).
'use strict';
const { performance } = require('perf_hooks');

const peakRssMb = () => process.resourceUsage().maxRSS / 1024; // maxRSS is KiB
const now = () => performance.now() / 1000;
const sleepMs = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function m1(n) {
  const resolved = Promise.resolve();
  async function yielder() {
    for (let i = 0; i < n; i++) await resolved;
  }
  let t0 = now();
  await Promise.all([yielder(), yielder()]);
  let dt = now() - t0;
  console.log(`M1 node ns_per_switch=${(dt * 1e9 / (2 * n)).toFixed(1)}`);

  const immediate = () => new Promise((resolve) => setImmediate(resolve));
  async function loopYielder() {
    for (let i = 0; i < n; i++) await immediate();
  }
  t0 = now();
  await Promise.all([loopYielder(), loopYielder()]);
  dt = now() - t0;
  console.log(`M1 node-immediate ns_per_switch=${(dt * 1e9 / (2 * n)).toFixed(1)}`);
}

async function m2(n) {
  async function giveInt(i) {
    return i & 0xffff;
  }
  const t0 = now();
  const tasks = new Array(n);
  for (let i = 0; i < n; i++) tasks[i] = giveInt(i);
  const results = await Promise.all(tasks);
  const dt = now() - t0;
  if (results[n - 1] !== ((n - 1) & 0xffff)) throw new Error('wrong result');
  console.log(`M2 node ns_per_task=${(dt * 1e9 / n).toFixed(1)} peak_rss_mb=${peakRssMb().toFixed(1)}`);
}

async function m3(n, secs) {
  const t0 = now();
  const tasks = new Array(n);
  for (let i = 0; i < n; i++) tasks[i] = sleepMs(secs * 1000);
  await Promise.all(tasks);
  const dt = now() - t0;
  console.log(`M3 node wall_s=${dt.toFixed(2)} peak_rss_mb=${peakRssMb().toFixed(1)}`);
}

// A FIFO semaphore on promises: what Node code uses in place of asyncio's.
class Semaphore {
  constructor(value) { this.value = value; this.waiters = []; }
  acquire() {
    if (this.value > 0) { this.value--; return Promise.resolve(); }
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  release() {
    const next = this.waiters.shift();
    if (next) next(); else this.value++;
  }
}

async function m4(n, limit, ms) {
  const sem = new Semaphore(limit);
  async function worker() {
    await sem.acquire();
    try { await sleepMs(ms); } finally { sem.release(); }
  }
  const t0 = now();
  const tasks = new Array(n);
  for (let i = 0; i < n; i++) tasks[i] = worker();
  await Promise.all(tasks);
  const dt = now() - t0;
  const ideal = n / limit * ms / 1000;
  console.log(`M4 node wall_s=${dt.toFixed(3)} overhead_pct=${((dt - ideal) / ideal * 100).toFixed(1)}`);
}

const [workload, ...rest] = process.argv.slice(2);
const args = rest.map(Number);
const fn = { m1, m2, m3, m4 }[workload];
if (!fn || args.some((a) => !(a > 0))) {
  console.error('usage: node bench_node.js m1 N | m2 N | m3 N S | m4 N LIMIT MS');
  process.exit(2);
}
fn(...args).catch((e) => { console.error(e); process.exit(1); });
