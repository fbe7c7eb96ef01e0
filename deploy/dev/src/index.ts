export * from "./processes.js";
export * from "./devconfig.js";
