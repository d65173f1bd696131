/** Names shared by the benchmark's processes. */

/** The one model the fake serves and every request asks for. */
export const BENCH_MODEL = "bench:latest";
/** The line each bench process prints when it has a result. */
export const RESULT_PREFIX = "BENCH_RESULT ";
