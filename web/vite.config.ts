import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The build lands in web/dist (gitignored), which `mediakg serve` serves at `/`. Hashed file
// names under /assets/ let the server mark them immutable; index.html is never cached.
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      "/graphql": { target: "http://127.0.0.1:8000", ws: true },
      "/blobs": "http://127.0.0.1:8000",
    },
  },
});
