// Bun embeds files imported `with { type: "file" }` in the compiled binary and gives their path.
declare module "*.wasm" {
  const path: string;
  export default path;
}
