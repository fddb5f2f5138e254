/** The reference adapter passes the shared storage contract (and so keeps the contract honest). */
import { MemoryDatastore } from "../../src/storage/memory/memory-datastore.js";
import { datastoreContract } from "./datastore-contract.js";

datastoreContract("memory", () => new MemoryDatastore());
