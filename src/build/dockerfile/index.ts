// The Dockerfile language (pure): parser and word processing.
export { parseDockerfile, parseTrigger, parseDuration, DockerfileParseError } from './parser.js';
export type { Dockerfile, Stage, Instruction, InstructionKind, CommandForm, KeyValue, Heredoc } from './parser.js';
export { processWord, processWords, splitRawWords, SubstitutionError } from './lexer.js';
export type { VarLookup } from './lexer.js';
