/**
 * @module node/util/bounded-body
 * Reads an HTTP request body (Web streams, as Hono hands it over) up to a
 * byte limit: refused early on a Content-Length over the limit, and the
 * stream cancelled as soon as the bytes read pass it, so a client cannot make
 * the node buffer more than it allows. Each caller turns "too big" into its
 * own protocol's answer (DAV 413 precondition, admin API error, …).
 */

/** The whole body, or null when it is (or declares itself) larger than `limit` bytes. */
export async function readBoundedBody(req: Request, limit: number): Promise<Buffer | null> {
  const declared = Number(req.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) return null;
  // A declared length within the limit bounds the read already (the HTTP parser delivers no more than it):
  // read it whole, which Hono's node adapter does straight from the socket, without a Web stream per chunk.
  if (Number.isFinite(declared)) return Buffer.from(await req.arrayBuffer());
  if (!req.body) return Buffer.alloc(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}
