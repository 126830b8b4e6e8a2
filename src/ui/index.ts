/** berth desktop (issue 19): the web dashboard served by berthd. */
export { startUiServer, type UiServer, type UiServerOptions } from './ui-server.js';
export { parseUiAddress, type UiAddress } from './ui-address.js';
export { loadOrCreateToken } from './ui-token.js';
export { registerDesktopRoute } from './desktop-route.js';
