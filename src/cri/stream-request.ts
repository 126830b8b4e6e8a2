/** What a CRI streaming URL stands for: an exec, an attach or a port-forward, registered by the runtime service and served by the streaming server. */
export type StreamRequest =
  | { kind: 'exec'; containerId: string; cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }
  | { kind: 'attach'; containerId: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }
  | { kind: 'portforward'; podId: string; netns: string; ports: number[] };
