// comlink's Node adapter ships its .d.ts beside an .mjs that TypeScript does not pair with it
// (no `exports` map, no .d.mts): declared here. The adapter takes a worker_threads Worker or
// MessagePort; the type stays loose so browser code can see this file without Node's types.
declare module 'comlink/dist/esm/node-adapter.mjs' {
  import type { Endpoint } from 'comlink';
  export interface NodeEndpoint {
    postMessage(message: any, transfer?: any): void;
    on(type: string, listener: any, options?: object): void;
    off(type: string, listener: any, options?: object): void;
    start?: () => void;
  }
  export default function nodeEndpoint(nep: NodeEndpoint): Endpoint;
}
