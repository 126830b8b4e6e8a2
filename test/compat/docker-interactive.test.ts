// Issue 3: the real docker CLI's run -it, attach, start -ai, detach keys, resize and exec against berthd, through a pseudo-terminal.
import { interactiveSuite } from '../helpers/interactive-suite.js';

interactiveSuite('docker');
