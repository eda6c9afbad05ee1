/**
 * @module test/helpers/ports
 * A loopback port free right now, for a server a test or bench starts by
 * port number (Pebble, Knot, Dovecot): the OS picks it, the caller's server
 * binds it next.
 */
import dgram from 'node:dgram';
import net from 'node:net';

/** A TCP port on 127.0.0.1 nothing listens on. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** A port free for both TCP and UDP on 127.0.0.1 (a DNS server takes both). */
export async function freeTcpUdpPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    const udp = dgram.createSocket('udp4');
    const free = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (free) return port;
  }
}

/** Whether a connection to 127.0.0.1:`port` is refused: nothing listens there (a killed server's port, say). */
export function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}
