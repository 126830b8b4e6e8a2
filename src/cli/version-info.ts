/** The berth CLI's own version, printed by `berth version` and `berth --version`. */
export const CLI_VERSION = '0.1.0';
