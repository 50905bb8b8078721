/** Where the end-to-end servers listen (see playwright.config.ts and e2e/serve.ts). */
export const instanceA = "http://localhost:3210";
export const instanceB = "http://localhost:3212";
export const embedded = "http://localhost:3211";
export const control = "http://127.0.0.1:3299";
