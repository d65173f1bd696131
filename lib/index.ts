// The public API of ollama-proxy as a library: start it, configure it, manage its users.
export { main } from "./cli/main.js";
export { ConfigError, loadConfig, resolveConfigLocation } from "./config/load.js";
export type { Config, ExternalHostConfig, ServerConfig } from "./config/types.js";
export { ProxyError } from "./errors.js";
export { type RunningServer, type ServerOptions, startServer, type Telemetry } from "./server.js";
export { openStore, type Store, StoreError } from "./store/open.js";
export type { User } from "./store/users.js";
export { createTelemetry, type TelemetryHandle } from "./telemetry.js";
export { VERSION } from "./version.js";
