/**
 * @module bench/s3rver-node
 * The bench's S3 server (s3rver) in a process of its own, as a replica
 * server always is: in the bench's process its request handling shared one
 * thread with the restore being measured and capped it at the server's speed.
 *
 *   tsx bench/s3rver-node.ts <directory> <bucket>   → prints `PORT <n>`
 */
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';

const [directory, bucket] = process.argv.slice(2);
const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
const addr = (await server.run()) as AddressInfo;
console.log(`PORT ${addr.port}`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
