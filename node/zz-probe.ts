import { parentPort } from 'node:worker_threads';
import { answer2 } from './zz-probe2.js';
const x: number = 42;
parentPort!.postMessage(x + answer2);
