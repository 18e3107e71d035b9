import { defineRegistryModelTests } from './_registry-cases.js';

defineRegistryModelTests(1, 3);
