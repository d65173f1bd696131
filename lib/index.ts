// The public API of ollama-proxy as a library: start it, configure it, manage its users.
export { main } from "./cli/main.js";
export { ConfigError, loadConfig, resolveConfigLocation } from "./config/load.js";
export type { Config, ExternalHostConfig, ServerConfig, TlsConfig } from "./config/types.js";
export { ProxyError } from "./errors.js";
export { TlsFilesError } from "./http/listener.js";
export { createTelemetry, type Telemetry, type TelemetryHandle } from "./observe/telemetry.js";
export { type RunningServer, type ServerOptions, startServer } from "./server.js";
export { openStore, type Store, StoreError } from "./store/open.js";
export type { User } from "./store/users.js";
export { VERSION } from "./version.js";
