import adapter from '@sveltejs/adapter-static';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

/** @type {import('@sveltejs/kit').Config} */
const config = {
	kit: {
		adapter: adapter({
			pages: 'docs',
			assets: 'docs',
			fallback: undefined,
			precompress: false,
			strict: true
		}),
		paths: {
			base: '/tomeclicker'
		},
		prerender: {
			entries: ['*']
		},
		// A fixed version name (instead of the default Date.now()) keeps
		// _app/version.json and the hashed chunks identical between rebuilds.
		version: {
			name: pkg.version
		}
	}
};

export default config;
