/** The server's name and version: its own module so `keap-mcp --version` loads nothing else. */
export const SERVER_NAME = 'keap-mcp';
export const SERVER_VERSION = '0.1.0';
