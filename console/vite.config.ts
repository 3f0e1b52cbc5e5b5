// Vite builds the console into dist/, which vigil-server embeds (crates/vigil-server/src/console.rs).
// `npm run dev` proxies the API to a server on VIGIL_API (default http://127.0.0.1:8080).
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The server's Content-Security-Policy forbids inline scripts: keep every module a file.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1200,
  },
  server: {
    proxy: {
      "/api": process.env.VIGIL_API ?? "http://127.0.0.1:8080",
      "/console-schema.json": process.env.VIGIL_API ?? "http://127.0.0.1:8080",
    },
  },
});
