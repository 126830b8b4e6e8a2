import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api';
import { attempt, confirmAction, Empty, notify } from './ui';
import { shortId } from './util';

interface Network {
  Id: string; Name: string; Driver: string; Scope: string; Internal?: boolean;
  IPAM?: { Config?: Array<{ Subnet?: string; Gateway?: string }> | null };
  Containers?: Record<string, { Name: string; IPv4Address?: string; IPv6Address?: string; MacAddress?: string }> | null;
}
const BUILTIN = new Set(['bridge', 'host', 'none']);

export function NetworksView() {
  const [list, setList] = useState<Network[]>();
  const [name, setName] = useState('');
  const [subnet, setSubnet] = useState('');
  const [internal, setInternal] = useState(false);
  const generation = useRef(0);
  const reload = async () => {
    const gen = ++generation.current;
    const nets = await api<Network[]>('GET', '/networks');
    // The list omits members; each network's inspect has them with their addresses.
    const full = await Promise.all(nets.map((n) => api<Network>('GET', `/networks/${n.Id}`).catch(() => n)));
    if (gen === generation.current) setList(full.sort((a, b) => a.Name.localeCompare(b.Name)));
  };
  useEffect(() => void reload().catch((e) => notify(`networks: ${e.message}`, true)), []);
  const create = async (e: Event) => {
    e.preventDefault();
    if (!name.trim()) return;
    await attempt(`create network ${name}`, async () => {
      await api('POST', '/networks/create', { Name: name.trim(), Driver: 'bridge', Internal: internal, CheckDuplicate: true, ...(subnet.trim() ? { IPAM: { Config: [{ Subnet: subnet.trim() }] } } : {}) });
      notify(`network ${name} created`);
      setName('');
      setSubnet('');
    });
    void reload();
  };
  const remove = async (n: Network) => {
    const members = Object.values(n.Containers ?? {});
    if (!(await confirmAction(`Remove network ${n.Name}?`, <p>{members.length ? `Containers still attached: ${members.map((m) => m.Name).join(', ')} — the engine refuses until they leave.` : 'No container is attached.'}</p>, 'Remove'))) return;
    await attempt(`remove network ${n.Name}`, async () => {
      await api('DELETE', `/networks/${n.Id}`);
      notify(`network ${n.Name} removed`);
    });
    void reload();
  };
  return (
    <section aria-labelledby="h-networks">
      <div class="toolbar">
        <h1 id="h-networks">Networks {list && <span class="count">{list.length}</span>}</h1>
        <form class="inline" onSubmit={create} aria-label="Create a network">
          <input aria-label="Network name" placeholder="name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          <input aria-label="Subnet (optional)" placeholder="subnet, e.g. 10.9.0.0/24 (optional)" value={subnet} onInput={(e) => setSubnet((e.target as HTMLInputElement).value)} />
          <label class="check"><input type="checkbox" checked={internal} onChange={(e) => setInternal((e.target as HTMLInputElement).checked)} /> internal</label>
          <button class="primary" type="submit">Create</button>
        </form>
      </div>
      {!list ? <Empty>Loading…</Empty> : (
        <table class="list" aria-label="Networks">
          <thead><tr><th>Name</th><th>ID</th><th>Driver</th><th>Subnet</th><th>Containers (address)</th><th>Actions</th></tr></thead>
          <tbody>
            {list.map((n) => (
              <tr key={n.Id} data-name={n.Name}>
                <td>{n.Name}{n.Internal ? <span class="badge">internal</span> : null}</td>
                <td class="mono">{shortId(n.Id)}</td>
                <td>{n.Driver}</td>
                <td class="mono">{(n.IPAM?.Config ?? []).map((c) => c.Subnet).filter(Boolean).join(', ') || '—'}</td>
                <td>{Object.entries(n.Containers ?? {}).map(([id, m]) => <div key={id}><a href={`#/containers/${id}`}>{m.Name}</a> <span class="mono sub">{m.IPv4Address || m.IPv6Address || ''}</span></div>)}</td>
                <td class="actions">{!BUILTIN.has(n.Name) && <button class="small danger" aria-label={`remove network ${n.Name}`} onClick={() => remove(n)}>remove</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
