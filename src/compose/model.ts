/**
 * The resolved compose model: what `loadProject` returns and `berth compose config` prints.
 * Field names are the compose specification's (snake_case), in their long syntax.
 */

export interface ServiceVolume {
  type: 'volume' | 'bind' | 'tmpfs' | string;
  source?: string;
  target: string;
  read_only?: boolean;
  bind?: { propagation?: string; create_host_path?: boolean };
  volume?: { nocopy?: boolean };
  tmpfs?: { size?: number | string; mode?: number };
}

export interface ServicePort {
  target: number;
  published?: string;
  host_ip?: string;
  protocol?: string;
  mode?: string;
}

export interface DependsOn {
  condition: 'service_started' | 'service_healthy' | 'service_completed_successfully';
  required?: boolean;
  restart?: boolean;
}

export interface Healthcheck {
  test?: string[];
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
  start_interval?: string;
  disable?: boolean;
}

export interface Service {
  name: string;
  image?: string;
  build?: { context: string; dockerfile?: string; args?: Record<string, string | null>; target?: string; labels?: Record<string, string> };
  command?: string[] | null;
  entrypoint?: string[] | null;
  environment?: Record<string, string | null>;
  ports?: ServicePort[];
  expose?: Array<string | number>;
  volumes?: ServiceVolume[];
  networks?: Record<string, { aliases?: string[]; ipv4_address?: string; ipv6_address?: string } | null>;
  network_mode?: string;
  depends_on?: Record<string, DependsOn>;
  healthcheck?: Healthcheck;
  restart?: string;
  scale: number;
  deploy?: { replicas?: number; resources?: { limits?: { cpus?: string | number; memory?: string | number } } };
  working_dir?: string;
  user?: string;
  hostname?: string;
  domainname?: string;
  labels?: Record<string, string>;
  init?: boolean;
  read_only?: boolean;
  privileged?: boolean;
  cap_add?: string[];
  cap_drop?: string[];
  tmpfs?: string[];
  ulimits?: Record<string, { soft: number; hard: number }>;
  mem_limit?: string | number;
  cpus?: string | number;
  stop_signal?: string;
  stop_grace_period?: string;
  tty?: boolean;
  stdin_open?: boolean;
  extra_hosts?: string[];
  dns?: string[];
  profiles?: string[];
  container_name?: string;
  pull_policy?: string;
  security_opt?: string[];
  [key: string]: unknown;
}

export interface NetworkConfig {
  name: string;
  external: boolean;
  driver?: string;
  driver_opts?: Record<string, string>;
  ipam?: { driver?: string; config?: Array<{ subnet?: string; gateway?: string; ip_range?: string }> };
  internal?: boolean;
  attachable?: boolean;
  labels?: Record<string, string> | string[];
  enable_ipv6?: boolean;
}

export interface VolumeConfig {
  name: string;
  external: boolean;
  driver?: string;
  driver_opts?: Record<string, string>;
  labels?: Record<string, string> | string[];
}

export interface Project {
  name: string;
  workingDir: string;
  configFiles: string[];
  /** Active services (profiles applied). */
  services: Record<string, Service>;
  disabledServices: Record<string, Service>;
  networks: Record<string, NetworkConfig>;
  volumes: Record<string, VolumeConfig>;
  /** The interpolation environment (.env under the process environment). */
  environment: Record<string, string | undefined>;
  profiles: string[];
  /** No compose file: the project is known by name only and its resources are found by label. */
  fromLabels?: boolean;
}
