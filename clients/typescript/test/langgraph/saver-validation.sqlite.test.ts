/** LangGraph's checkpointer validation suite on MnemoSaver, Mnemo on SQLite (see validation.ts). */
import { validate } from "@langchain/langgraph-checkpoint-validation";
import { installTestGlobals, mnemoSaverInitializer } from "./validation.js";

installTestGlobals();
validate(mnemoSaverInitializer("sqlite"));
