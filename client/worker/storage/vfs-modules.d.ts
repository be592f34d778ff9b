// wa-sqlite's OPFS example VFS classes ship as JavaScript without declarations: the little the
// storage layer uses, declared here.
declare module '@journeyapps/wa-sqlite/src/examples/AccessHandlePoolVFS.js' {
  export class AccessHandlePoolVFS {
    static create(name: string, module: unknown): Promise<AccessHandlePoolVFS & SQLiteVFS>;
    readonly name: string;
    close(): Promise<void>;
  }
}
declare module '@journeyapps/wa-sqlite/src/examples/OPFSCoopSyncVFS.js' {
  export class OPFSCoopSyncVFS {
    static create(name: string, module: unknown): Promise<OPFSCoopSyncVFS & SQLiteVFS>;
    readonly name: string;
  }
}
