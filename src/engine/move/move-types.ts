/**
 * Shapes shared by the two ends of a container move (issue 23): what the source exports and
 * the target imports. The client carries them between the daemons (docs/api-compat.md,
 * "Moving a container").
 */

/** One piece of a container's state that travels as a tar. */
export interface MovePart {
  /** `rw` (the writable layer) or `vol-N` (a volume). */
  id: string;
  kind: 'rw' | 'volume';
  /** sha256 of the tar, and its length in bytes. */
  digest: string;
  size: number;
  /** Volumes: the volume's name on the source, where it is mounted, and whether it is anonymous (made for this container). */
  volume?: {
    name: string;
    destination: string;
    anonymous: boolean;
    driver: string;
    labels: Record<string, string>;
    options: Record<string, string>;
    /** The volume root's mode and owner (the tar holds what is below it). */
    mode: number;
    uid: number;
    gid: number;
  };
}

/** What `exportState` answers (POST /containers/{id}/export-state). */
export interface ExportedState {
  /** Absent for a dry run (nothing kept). */
  session?: string;
  containerId: string;
  name: string;
  imageId: string;
  parts: MovePart[];
  /** What is not carried (bind mounts, named volumes without `volumes`, …). */
  warnings: string[];
}

export const PART_ID = /^(rw|vol-\d{1,4})$/;
export const SESSION_ID = /^[a-f0-9]{32}$/;
