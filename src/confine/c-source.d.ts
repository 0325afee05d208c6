// Bun imports the launcher's C source `with { type: "text" }` as its text (compiled at run time by bun:ffi's cc).
declare module "*.c" {
  const text: string;
  export default text;
}
