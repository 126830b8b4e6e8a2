// Issue 3: run -it / -i, attach, start -ai, detach keys, resize and exec through `berth`, driven through a pseudo-terminal.
import { interactiveSuite } from '../helpers/interactive-suite.js';

interactiveSuite('berth');
