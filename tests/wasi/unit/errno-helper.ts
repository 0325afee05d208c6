export { ERRNO } from "../../../src/wasi/errno.ts";
export { WasiErrno as WasiErrnoForTests } from "../../../src/wasi/errno.ts";
