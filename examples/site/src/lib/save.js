// Progress is kept in localStorage under this key.
export const SAVE_KEY = 'tomeclicker.count';

/** @returns {number} */
export function load() {
	try {
		const n = Number(localStorage.getItem(SAVE_KEY) ?? '0');
		return Number.isSafeInteger(n) && n >= 0 ? n : 0;
	} catch {
		return 0;
	}
}

/** @param {number} n */
export function save(n) {
	try {
		localStorage.setItem(SAVE_KEY, String(n));
	} catch {
		// storage unavailable (private mode, quota): progress is just not kept
	}
}

export function reset() {
	try {
		localStorage.removeItem(SAVE_KEY);
	} catch {
		// ignore
	}
}
