/** Live stats as uPlot charts: per container (one stats stream) and engine-wide (sum of streams). */
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { bridge, jsonLines, type StreamHandle } from './api';
import { useContainers, containerName } from './container-store';
import { bytes } from './util';

const WINDOW = 120;

export interface Sample { t: number; cpu: number; mem: number; memLimit: number; rx: number; tx: number; read: number; write: number }

interface RawStats {
  read: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: { inactive_file?: number; cache?: number } };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
  blkio_stats?: { io_service_bytes_recursive?: Array<{ op: string; value: number }> | null };
}

/** Turns the stats stream into samples with rates (bytes/s) and CPU percent, as `docker stats`. */
function sampler(onSample: (s: Sample) => void): (raw: RawStats) => void {
  let prev: { t: number; rx: number; tx: number; read: number; write: number } | undefined;
  return (r) => {
    const t = Date.parse(r.read) / 1000 || Date.now() / 1000;
    const cpuDelta = (r.cpu_stats?.cpu_usage?.total_usage ?? 0) - (r.precpu_stats?.cpu_usage?.total_usage ?? 0);
    const sysDelta = (r.cpu_stats?.system_cpu_usage ?? 0) - (r.precpu_stats?.system_cpu_usage ?? 0);
    const cpus = r.cpu_stats?.online_cpus || 1;
    const cpu = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0;
    const m = r.memory_stats ?? {};
    const mem = Math.max(0, (m.usage ?? 0) - (m.stats?.inactive_file ?? m.stats?.cache ?? 0));
    let rx = 0, tx = 0;
    for (const n of Object.values(r.networks ?? {})) { rx += n.rx_bytes; tx += n.tx_bytes; }
    let read = 0, write = 0;
    for (const b of r.blkio_stats?.io_service_bytes_recursive ?? []) {
      if (/read/i.test(b.op)) read += b.value;
      else if (/write/i.test(b.op)) write += b.value;
    }
    const rate = (a: number, b: number | undefined, dt: number) => (b === undefined || dt <= 0 ? 0 : Math.max(0, (a - b) / dt));
    const dt = prev ? t - prev.t : 0;
    onSample({ t, cpu, mem, memLimit: m.limit ?? 0, rx: rate(rx, prev?.rx, dt), tx: rate(tx, prev?.tx, dt), read: rate(read, prev?.read, dt), write: rate(write, prev?.write, dt) });
    prev = { t, rx, tx, read, write };
  };
}

export function openStats(id: string, onSample: (s: Sample) => void): StreamHandle {
  return bridge.stream(`/containers/${id}/stats?stream=1`, { onData: jsonLines<RawStats>(sampler(onSample)) });
}

function Chart({ title, series, data, fmt }: { title: string; series: string[]; data: number[][]; fmt: (v: number) => string }) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot>();
  useEffect(() => {
    if (!el.current) return;
    const colors = ['#4c9aff', '#f5a623', '#7ed321'];
    const p = new uPlot(
      {
        width: el.current.clientWidth || 300,
        height: 150,
        legend: { show: true },
        axes: [{ stroke: '#9aa5b1', grid: { stroke: '#26303b' } }, { stroke: '#9aa5b1', grid: { stroke: '#26303b' }, size: 70, values: (_u, vals) => vals.map(fmt) }],
        series: [{}, ...series.map((s, i) => ({ label: s, stroke: colors[i], width: 2, value: (_u: uPlot, v: number | null) => (v === null ? '—' : fmt(v)) }))],
      },
      [[], ...series.map(() => [])] as unknown as uPlot.AlignedData,
      el.current,
    );
    plot.current = p;
    const ro = new ResizeObserver(() => p.setSize({ width: el.current?.clientWidth || 300, height: 150 }));
    ro.observe(el.current);
    return () => { ro.disconnect(); p.destroy(); };
  }, []);
  useEffect(() => { plot.current?.setData(data as unknown as uPlot.AlignedData); }, [data]);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={el} role="img" aria-label={`${title} chart`} />
    </figure>
  );
}

function columns(samples: Sample[]) {
  return {
    t: samples.map((s) => s.t),
    cpu: samples.map((s) => s.cpu),
    mem: samples.map((s) => s.mem),
    rx: samples.map((s) => s.rx), tx: samples.map((s) => s.tx),
    read: samples.map((s) => s.read), write: samples.map((s) => s.write),
  };
}

export function StatsCharts({ samples, note }: { samples: Sample[]; note?: string }) {
  const c = columns(samples);
  const last = samples[samples.length - 1];
  const rate = (v: number) => `${bytes(v)}/s`;
  return (
    <div>
      <p class="sub" aria-live="polite">
        {last ? `CPU ${last.cpu.toFixed(1)}% · memory ${bytes(last.mem)}${last.memLimit ? ` of ${bytes(last.memLimit)}` : ''} · net ↓${rate(last.rx)} ↑${rate(last.tx)} · disk r ${rate(last.read)} w ${rate(last.write)}` : 'waiting for the first sample…'}
        {note ? ` — ${note}` : ''}
      </p>
      <div class="charts">
        <Chart title="CPU" series={['CPU %']} data={[c.t, c.cpu]} fmt={(v) => `${v.toFixed(1)}%`} />
        <Chart title="Memory" series={['used']} data={[c.t, c.mem]} fmt={bytes} />
        <Chart title="Network" series={['received', 'sent']} data={[c.t, c.rx, c.tx]} fmt={rate} />
        <Chart title="Block I/O" series={['read', 'written']} data={[c.t, c.read, c.write]} fmt={rate} />
      </div>
    </div>
  );
}

export function ContainerStats({ id, running }: { id: string; running: boolean }) {
  const [samples, setSamples] = useState<Sample[]>([]);
  useEffect(() => {
    if (!running) return;
    setSamples([]);
    const h = openStats(id, (s) => setSamples((prev) => [...prev.slice(-WINDOW + 1), s]));
    return () => h.cancel();
  }, [id, running]);
  if (!running) return <p class="empty">The container is not running: no live statistics.</p>;
  return <StatsCharts samples={samples} />;
}

/** At most this many containers are sampled for the engine-wide view (one stream each). */
const ENGINE_MAX_STREAMS = 64;

export function EngineStats() {
  const { list } = useContainers();
  const running = list.filter((c) => c.State === 'running').slice(0, ENGINE_MAX_STREAMS);
  const key = running.map((c) => c.Id).sort().join(',');
  const [samples, setSamples] = useState<Sample[]>([]);
  const [per, setPer] = useState<Record<string, Sample>>({});
  useEffect(() => {
    const latest = new Map<string, Sample>();
    const handles = running.map((c) => openStats(c.Id, (s) => latest.set(c.Id, s)));
    // The engine total is the sum of each container's newest sample, taken once a second
    // (each stream itself delivers one sample a second).
    const timer = setInterval(() => {
      const sum: Sample = { t: Date.now() / 1000, cpu: 0, mem: 0, memLimit: 0, rx: 0, tx: 0, read: 0, write: 0 };
      for (const s of latest.values()) {
        sum.cpu += s.cpu; sum.mem += s.mem; sum.rx += s.rx; sum.tx += s.tx; sum.read += s.read; sum.write += s.write;
      }
      setSamples((prev) => [...prev.slice(-WINDOW + 1), sum]);
      setPer(Object.fromEntries(latest));
    }, 1000);
    return () => { clearInterval(timer); for (const h of handles) h.cancel(); };
  }, [key]);
  const all = list.filter((c) => c.State === 'running').length;
  return (
    <section aria-labelledby="h-stats">
      <div class="toolbar"><h1 id="h-stats">Engine statistics <span class="count">{all} running containers</span></h1></div>
      <StatsCharts samples={samples} note={all > ENGINE_MAX_STREAMS ? `sum of the first ${ENGINE_MAX_STREAMS} running containers` : 'sum over running containers'} />
      <table class="list" aria-label="Usage per container">
        <thead><tr><th>Container</th><th>CPU</th><th>Memory</th><th>Net in/out</th><th>Disk read/write</th></tr></thead>
        <tbody>
          {running.map((c) => {
            const s = per[c.Id];
            return (
              <tr key={c.Id}>
                <td><a href={`#/containers/${c.Id}/stats`}>{containerName(c)}</a></td>
                <td>{s ? `${s.cpu.toFixed(1)}%` : '—'}</td>
                <td>{s ? bytes(s.mem) : '—'}</td>
                <td>{s ? `${bytes(s.rx)}/s / ${bytes(s.tx)}/s` : '—'}</td>
                <td>{s ? `${bytes(s.read)}/s / ${bytes(s.write)}/s` : '—'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
