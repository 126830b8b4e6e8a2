/**
 * Worker-thread entry of the layer unpack (layer-unpack.ts `unpackInWorker`): one layer at a
 * time, bytes in, diffID and scan outcome out.
 */
import { parentPort } from 'node:worker_threads';
import { workerSide, type ToWorker } from './layer-unpack.js';

const port = parentPort;
if (!port) throw new Error('unpack-worker.js runs only as a worker thread');
const handle = workerSide((m) => port.postMessage(m));
port.on('message', (m: ToWorker) => handle(m));
