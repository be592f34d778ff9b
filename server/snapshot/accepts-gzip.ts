/**
 * Whether an `Accept-Encoding` header allows gzip (RFC 9110, 12.5.3): `gzip` or `x-gzip` with a
 * q-value above 0, or else `*` with one. Absent header: no (identity is always acceptable, and a
 * client that says nothing may not be able to inflate).
 */
export function acceptsGzip(header: string | null | undefined): boolean {
  if (!header) return false;
  let gzip: number | undefined;
  let star: number | undefined;
  for (const part of header.split(',')) {
    const [rawName = '', ...params] = part.split(';');
    const name = rawName.trim().toLowerCase();
    let q = 1;
    for (const param of params) {
      const m = /^\s*q\s*=\s*([0-9]+(?:\.[0-9]*)?)\s*$/i.exec(param);
      if (m) q = Number(m[1]);
    }
    if (name === 'gzip' || name === 'x-gzip') gzip = Math.max(gzip ?? 0, q);
    else if (name === '*') star = q;
  }
  return (gzip ?? star ?? 0) > 0;
}
