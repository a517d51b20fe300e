// The analysis worker's entry point: a CommonJS shim that loads worker.mjs with import().
//
// Why a shim: piscina loads its task file with require() first. On Node 20.19+ require() of an
// ES module (require(esm)) is on by default, and in a full test run (several pools started and
// stopped in one process) Node 20 once aborted the whole process inside that require() with a
// fatal "v8::Module::IsGraphAsync must be used on an instantiated module". require() of this
// file is plain CommonJS, and the ES module is then loaded by the ordinary asynchronous loader,
// which never takes the require(esm) path.
"use strict";

let handlerPromise = null;

function handler() {
  if (!handlerPromise) {
    handlerPromise = import("./worker.mjs").then((module) => module.default);
    handlerPromise.catch(() => {
      handlerPromise = null;
    });
  }
  return handlerPromise;
}

module.exports = async function run(task) {
  const runTask = await handler();
  return runTask(task);
};
