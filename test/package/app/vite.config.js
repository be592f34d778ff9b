// The app's Vite config: the one setting treesync needs, module workers (the replica's worker
// loads its storage code on demand, which the default `iife` worker format cannot split).
export default {
  worker: { format: 'es' },
  build: { target: 'es2022' },
};
