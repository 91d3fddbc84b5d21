const assert = require("assert");
const { shout } = require("./format.js");
assert.strictEqual(shout("hi"), "HI!");
console.log("ok");
