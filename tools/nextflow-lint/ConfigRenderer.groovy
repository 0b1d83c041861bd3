/*
 * Evaluates a Nextflow config the way Nextflow 25.10+ does: the language server's
 * parser reads the strict config syntax and its ConfigToGroovyVisitor turns it into
 * calls of assign(names, value), block(name, body), withLabel/withName(selector, body) and
 * includeConfig(path), which the RenderedConfig base class below carries out.
 * Profiles are applied in the order the config declares them, as Nextflow does,
 * and params given "on the command line" win over the config's.
 *
 * Loaded at run time by render_config.py (through JPype's GroovyClassLoader), so
 * it needs nothing but the language server jar.
 */

import nextflow.config.control.ConfigToGroovyVisitor
import nextflow.config.parser.ConfigParserPluginFactory
import org.codehaus.groovy.ast.ClassNode
import org.codehaus.groovy.classgen.GeneratorContext
import org.codehaus.groovy.control.CompilePhase
import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.SourceUnit
import org.codehaus.groovy.control.customizers.CompilationCustomizer

import java.nio.file.Path

/** Runs the parser's config-to-Groovy rewrite, as Nextflow's own config loader does. */
class ConfigToGroovy extends CompilationCustomizer {
    ConfigToGroovy() { super(CompilePhase.CONVERSION) }

    void call(SourceUnit source, GeneratorContext context, ClassNode classNode) {
        new ConfigToGroovyVisitor(source).visit()
    }
}

/** A memory or duration such as 6.GB or 4.h: enough arithmetic for resource closures. */
class Quantity {
    final Number value
    final String unit

    Quantity(Number value, String unit) { this.value = value; this.unit = unit }

    Quantity multiply(Number factor) { new Quantity(value * factor, unit) }

    String toString() { "${value}.${unit}" }
}

/** Names a directive closure sees: task and workflow first, then the config's own. */
class TaskContext {
    Map task
    Map workflow
    // The task's inputs by name (ext closures read them, as in nf-core's ext.prefix)
    Map inputs = [:]

    def propertyMissing(String name) {
        if (inputs.containsKey(name)) {
            return inputs[name]
        }
        throw new MissingPropertyException(name, TaskContext)
    }
}

/** Shared state of one evaluation: the nested settings and where assignments go. */
class ConfigState {
    Map root = [:]
    Map params = [:]
    Map cliParams = [:]
    List<String> profiles = []
    List<String> applied = []
    Path projectDir
    GroovyShell shell
}

abstract class RenderedConfig extends Script {
    ConfigState state
    Path file
    List<Map> scopes = []
    boolean inProfiles = false

    Map getParams() { state.params }

    Path getProjectDir() { state.projectDir }

    Path getBaseDir() { state.projectDir }

    Path getLaunchDir() { state.projectDir }

    String env(String name) { System.getenv(name) }

    void assign(List<String> names, Object value) {
        Map target = scopes ? scopes[-1] : state.root
        if (!scopes && names[0] == 'params') {
            setParam(names.subList(1, names.size()), value)
            return
        }
        if (target.is(state.params)) {
            setParam(names, value)
            return
        }
        names.subList(0, names.size() - 1).each { name -> target = (Map) target.computeIfAbsent(name) { [:] } }
        target[names[-1]] = value
    }

    private void setParam(List<String> names, Object value) {
        if (!state.cliParams.containsKey(names[0])) {
            state.params[names.join('.')] = value
        }
    }

    void block(String name, Closure body) {
        if (!scopes && name == 'plugins') {
            body.call()
        } else if (!scopes && name == 'profiles') {
            inProfiles = true
            body.call()
            inProfiles = false
        } else if (inProfiles) {
            if (name in state.profiles) {
                state.applied << name
                inProfiles = false
                body.call()
                inProfiles = true
            }
        } else if (!scopes && name == 'params') {
            scopes << state.params
            body.call()
            scopes.removeLast()
        } else {
            Map parent = scopes ? scopes[-1] : state.root
            scopes << (Map) parent.computeIfAbsent(name) { [:] }
            body.call()
            scopes.removeLast()
        }
    }

    /** `plugins { id 'name@version' }`: no process setting comes from a plugin. */
    void id(String plugin) {
    }

    void withLabel(String selector, Closure body) {
        block("withLabel:${selector}".toString(), body)
    }

    void withName(String selector, Closure body) {
        block("withName:${selector}".toString(), body)
    }

    void includeConfig(Object path) {
        Path included = file.parent.resolve(path.toString()).normalize()
        RenderedConfig script = (RenderedConfig) state.shell.parse(included.toFile())
        script.state = state
        script.file = included
        script.scopes = scopes
        script.run()
    }

    /**
     * Evaluates config file `config` with the given profiles and command-line params;
     * returns the nested settings, the params and the profiles that were applied.
     */
    static Map evaluate(Path config, List<String> profiles, Map cliParams) {
        Integer.metaClass.getGB = { -> new Quantity(delegate, 'GB') }
        Integer.metaClass.getMB = { -> new Quantity(delegate, 'MB') }
        Integer.metaClass.getH = { -> new Quantity(delegate, 'h') }
        Integer.metaClass.getM = { -> new Quantity(delegate, 'm') }
        def compiler = new CompilerConfiguration()
        compiler.scriptBaseClass = RenderedConfig.name
        compiler.pluginFactory = new ConfigParserPluginFactory()
        compiler.addCompilationCustomizers(new ConfigToGroovy())
        def state = new ConfigState(
            profiles: profiles,
            cliParams: cliParams,
            params: new LinkedHashMap(cliParams),
            projectDir: config.parent,
        )
        state.shell = new GroovyShell(RenderedConfig.classLoader, new Binding(), compiler)
        RenderedConfig script = (RenderedConfig) state.shell.parse(config.toFile())
        script.state = state
        script.file = config
        script.run()
        return [settings: state.root, params: state.params, applied: state.applied]
    }

    /** A directive's value for one task: closures are called with task, workflow and the task's inputs. */
    static Object resolve(Object value, Map task, Map workflow, Map inputs) {
        if (value instanceof Closure) {
            Closure closure = ((Closure) value).rehydrate(
                new TaskContext(task: task, workflow: workflow, inputs: inputs), value.owner, value.thisObject)
            closure.resolveStrategy = Closure.DELEGATE_FIRST
            return resolve(closure.call(), task, workflow, inputs)
        }
        if (value instanceof Map) {
            return value.collectEntries { k, v -> [k, resolve(v, task, workflow, inputs)] }
        }
        return value instanceof GString || value instanceof Quantity || value instanceof Path ? value.toString() : value
    }
}
