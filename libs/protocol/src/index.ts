export * from "./errors.js";
export * from "./names.js";
export * from "./permissions.js";
export * from "./tokens.js";
export * from "./frames.js";
export * from "./limits.js";
export * from "./messages.js";
export * from "./requests.js";
