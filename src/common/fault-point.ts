/**
 * Crash testing (issue 17): `BERTH_FAULT=<point>` in berthd's environment makes the process
 * kill itself with SIGKILL the first time it reaches `faultPoint('<point>')`. The variable is read
 * once at start-up; without it every call is a no-op compare. Points (see docs/ARCHITECTURE.md):
 *   pull-layer-committed   a pull, after its first layer is committed, before the next one
 *   pull-before-tag        a pull, every layer committed, before the image record and its tags
 *   image-create-layer     build step / commit: the new layer registered, no image record yet
 *   build-step-ran         a build's RUN container exited, before its layer is taken
 *   container-created      create: the container's directory and rootfs made, no store row yet
 *   container-start        start: called, before anything runs (`run` between create and start)
 *   container-remove       rm -f: the container left the API, before its files are reclaimed
 *   volume-remove          volume rm: its directory deleted, its store row not yet
 *   network-create         network create: the bridge made, no store row yet
 *   image-remove           rmi: the image record deleted, its layers not yet released
 *   move-import-volume     container move target: the first bytes of a volume part arrived (issue 23)
 *   move-import-before-rename  container move target: the commit made everything, before the rename
 */
const armed = process.env['BERTH_FAULT'] ?? '';

export function faultPoint(name: string): void {
  if (armed !== '' && armed === name) process.kill(process.pid, 'SIGKILL');
}
