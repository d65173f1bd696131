import pkg from "../package.json" with { type: "json" };

/** The proxy's own version, from package.json. */
export const VERSION: string = pkg.version;
