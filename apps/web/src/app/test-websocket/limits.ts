/**
 * The server's limit on what people write: echo, broadcast and channel text (`publicationText` in
 * packages/api/src/router/text.ts). The page checks it too, so an over-long text is caught before
 * it travels.
 */
export const maxTextLength = 4096;
