import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

export default defineConfig({
	plugins: [sveltekit()],
	build: {
		// the home page's data chunk is intentionally ~100 KB
		chunkSizeWarningLimit: 1024
	}
});
